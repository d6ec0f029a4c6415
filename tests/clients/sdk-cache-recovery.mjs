// The identity id cache of fromCognitoIdentityPool across "page loads" (new providers sharing
// one cache), and how it recovers once the cached identity was deleted on the server: the
// first provider after the deletion fails with the server's error and clears the cache entry,
// the next one gets a fresh identity.
//
// input: {endpoint, region, identityPoolId}

import { DeleteIdentitiesCommand } from "@aws-sdk/client-cognito-identity";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-providers";

import { MemoryCache, attempt, client, describeCredentials, run } from "./lib.mjs";

run(async ({ endpoint, region, identityPoolId }) => {
  const clientConfig = { endpoint, region, maxAttempts: 1 };
  const cache = new MemoryCache();
  const load = () => fromCognitoIdentityPool({ identityPoolId, clientConfig, cache })();

  const first = describeCredentials(await load());
  const cachedAfterFirst = cache.snapshot();
  const reloaded = describeCredentials(await load());

  const admin = client({ endpoint, region, signed: true });
  const deleted = await admin.send(
    new DeleteIdentitiesCommand({ IdentityIdsToDelete: [first.identityId] }),
  );

  const stale = await attempt(load());
  await new Promise((resolve) => setImmediate(resolve)); // the provider clears its cache async
  const cachedAfterError = cache.snapshot();
  const recovered = describeCredentials(await load());
  return {
    first,
    cachedAfterFirst,
    reloaded,
    unprocessed: deleted.UnprocessedIdentityIds,
    stale,
    cachedAfterError,
    recovered,
    cachedAfterRecovery: cache.snapshot(),
  };
});
