// Shared plumbing for the client scenarios run by tests/e2e/test_client_*.py.
//
// Each scenario is a node script that takes one JSON argument (endpoint, pool ids, tokens made
// by the Python side), drives a real AWS client against idpool, and prints one JSON document on
// stdout. The Python test asserts on that document, so a scenario never asserts itself: it
// reports what the client saw, including errors, in a form that survives JSON.

import { CognitoIdentityClient } from "@aws-sdk/client-cognito-identity";

/** Dummy keys: idpool's test server runs in lax mode, so any well-formed signature passes. */
export const DUMMY_CREDENTIALS = {
  accessKeyId: "AKIAIDPOOLTEST000001",
  secretAccessKey: "secret",
};

export function input() {
  return JSON.parse(process.argv[2] ?? "{}");
}

/** Run the scenario and print its result; an unexpected throw fails the process loudly. */
export async function run(scenario) {
  try {
    const result = await scenario(input());
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    process.stderr.write(`scenario failed: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  }
}

/** What an app can see of an error: its class name, message and HTTP metadata. */
export function describeError(err, classes = {}) {
  const described = {
    name: err?.name,
    message: err?.message,
    status: err?.$metadata?.httpStatusCode,
    fault: err?.$fault,
    requestId: err?.$metadata?.requestId,
    constructor: err?.constructor?.name,
  };
  for (const [label, cls] of Object.entries(classes)) {
    described[`instanceof${label}`] = err instanceof cls;
  }
  return described;
}

/** Resolve `promise` into {ok} or {error}, so one scenario can report several outcomes. */
export async function attempt(promise, classes = {}) {
  try {
    return { ok: await promise };
  } catch (err) {
    return { error: describeError(err, classes) };
  }
}

/** The credential fields a test cares about; the secret itself is only checked for presence. */
export function describeCredentials(creds) {
  return {
    identityId: creds.identityId,
    accessKeyId: creds.accessKeyId,
    hasSecretAccessKey: typeof creds.secretAccessKey === "string" && creds.secretAccessKey !== "",
    hasSessionToken: typeof creds.sessionToken === "string" && creds.sessionToken !== "",
    expirationIsDate: creds.expiration instanceof Date,
    expiration: creds.expiration instanceof Date ? creds.expiration.toISOString() : creds.expiration,
  };
}

/** The storage interface fromCognitoIdentityPool accepts as `cache`, inspectable by the test. */
export class MemoryCache {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, value);
  }
  removeItem(key) {
    this.items.delete(key);
  }
  snapshot() {
    return Object.fromEntries(this.items);
  }
}

/**
 * A low-level client. Without `credentials` it can still call the public operations, which
 * the SDK sends unsigned (the model marks them auth "none"), just as a browser app does.
 */
export function client({ endpoint, region = "us-east-1", signed = false }) {
  return new CognitoIdentityClient({
    endpoint,
    region,
    maxAttempts: 1,
    ...(signed ? { credentials: DUMMY_CREDENTIALS } : {}),
  });
}

/** Record the header names of every request after signing (what reaches the wire). */
export function recordHeaders(cognito, sink) {
  cognito.middlewareStack.add(
    (next) => async (args) => {
      sink.push({
        target: args.request.headers["x-amz-target"],
        headers: Object.keys(args.request.headers).map((name) => name.toLowerCase()).sort(),
      });
      return next(args);
    },
    { step: "deserialize", name: "idpoolRecordHeaders" },
  );
}
