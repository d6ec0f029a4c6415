// fromCognitoIdentityPool / fromCognitoIdentity as an app uses them: configured with the
// endpoint and region only (no AWS credentials), asked for credentials twice.
//
// input: {endpoint, region, identityPoolId, logins?, identityId?}
//   with identityId: fromCognitoIdentity (the developer-authenticated path in AWS's docs);
//   without: fromCognitoIdentityPool, which calls GetId first.

import { fromCognitoIdentity, fromCognitoIdentityPool } from "@aws-sdk/credential-providers";

import { MemoryCache, attempt, describeCredentials, run } from "./lib.mjs";

run(async ({ endpoint, region, identityPoolId, logins, identityId }) => {
  const clientConfig = { endpoint, region, maxAttempts: 1 };
  const cache = new MemoryCache();
  const provider = identityId
    ? fromCognitoIdentity({ identityId, logins, clientConfig })
    : fromCognitoIdentityPool({ identityPoolId, logins, clientConfig, cache });
  const first = await attempt(provider());
  const second = first.ok ? await attempt(provider()) : null;
  return {
    first: first.ok ? describeCredentials(first.ok) : first,
    second: second?.ok ? describeCredentials(second.ok) : second,
    cache: cache.snapshot(),
  };
});
