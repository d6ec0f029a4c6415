// Amplify JS v6 as a guest (no user pool): fetchAuthSession returns credentials and an identity
// id; the id is kept across sessions, and forceRefresh asks the server for new credentials for
// the same identity. Errors from the identity pool reach the app as thrown errors.
//
// input: {endpoint, identityPoolId, noGuestPoolId, missingPoolId}
// Amplify derives the region from the pool id, and `identityPoolEndpoint` is its documented
// override for the Cognito Identity endpoint.

import { Amplify } from "aws-amplify";
import { fetchAuthSession } from "aws-amplify/auth";

import { attempt, describeCredentials, run } from "./lib.mjs";

/** Every identity-pool call Amplify makes, in order, as seen by fetch. */
const calls = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (resource, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  calls.push({
    url: String(resource instanceof Request ? resource.url : resource),
    target: headers.get("x-amz-target"),
    headers: [...headers.keys()].sort(),
  });
  return realFetch(resource, init);
};

function configure(endpoint, identityPoolId) {
  Amplify.configure({
    Auth: {
      Cognito: { identityPoolId, identityPoolEndpoint: endpoint, allowGuestAccess: true },
    },
  });
}

function describeSession(session) {
  return {
    identityId: session.identityId,
    tokens: session.tokens ?? null,
    credentials: session.credentials
      ? describeCredentials({ identityId: session.identityId, ...session.credentials })
      : null,
  };
}

run(async ({ endpoint, identityPoolId, noGuestPoolId, missingPoolId }) => {
  // Failures first: a failed fetchAuthSession caches nothing, so the guest flow that follows
  // starts as clean as a fresh page load.
  const errors = {};
  for (const [label, poolId] of Object.entries({
    guestsNotAllowed: noGuestPoolId,
    missingPool: missingPoolId,
  })) {
    configure(endpoint, poolId);
    errors[label] = await attempt(fetchAuthSession());
  }
  const errorCalls = calls.splice(0);

  configure(endpoint, identityPoolId);
  const first = describeSession(await fetchAuthSession());
  const again = describeSession(await fetchAuthSession());
  const refreshed = describeSession(await fetchAuthSession({ forceRefresh: true }));
  return { errors, errorCalls, first, again, refreshed, calls };
});
