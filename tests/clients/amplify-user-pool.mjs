// Amplify JS v6 signed in to a Cognito user pool (moto's cognito-idp server), then exchanging
// the ID token at idpool: signIn with USER_PASSWORD_AUTH against `userPoolEndpoint`, then
// fetchAuthSession against `identityPoolEndpoint`. Reports what the app sees; the secret and
// session token are passed on only so the test can ask STS which role they belong to.
//
// input: {userPoolEndpoint, identityPoolEndpoint, userPoolId, userPoolClientId, identityPoolId,
//         username, password}

import { Amplify } from "aws-amplify";
import { fetchAuthSession, signIn } from "aws-amplify/auth";

import { describeCredentials, run } from "./lib.mjs";

/** Every request Amplify makes, in order: which endpoint and which operation. */
const calls = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (resource, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  calls.push({
    url: String(resource instanceof Request ? resource.url : resource),
    target: headers.get("x-amz-target"),
  });
  return realFetch(resource, init);
};

run(async (input) => {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: input.userPoolId,
        userPoolClientId: input.userPoolClientId,
        userPoolEndpoint: input.userPoolEndpoint,
        identityPoolId: input.identityPoolId,
        identityPoolEndpoint: input.identityPoolEndpoint,
      },
    },
  });
  const signedIn = await signIn({
    username: input.username,
    password: input.password,
    // moto's SRP flow mishandles USER_ID_FOR_SRP; the password flow is what it implements.
    options: { authFlowType: "USER_PASSWORD_AUTH" },
  });
  const session = await fetchAuthSession();
  const creds = session.credentials;
  return {
    signedIn: { isSignedIn: signedIn.isSignedIn, nextStep: signedIn.nextStep?.signInStep },
    identityId: session.identityId,
    idToken: session.tokens?.idToken?.toString() ?? null,
    credentials: creds
      ? {
          ...describeCredentials({ identityId: session.identityId, ...creds }),
          secretAccessKey: creds.secretAccessKey,
          sessionToken: creds.sessionToken,
        }
      : null,
    calls,
  };
});
