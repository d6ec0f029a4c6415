// fromWebToken as an app uses it: a role ARN and a web identity token, with only the STS
// endpoint changed (idpool's own URL). Reports the credentials so the Python side can ask
// idpool's GetCallerIdentity who they are, or the error the SDK saw.
//
// input: {endpoint, region, roleArn, webIdentityToken, roleSessionName}

import { fromWebToken } from "@aws-sdk/credential-providers";

import { attempt, run } from "./lib.mjs";

run(async ({ endpoint, region, roleArn, webIdentityToken, roleSessionName }) => {
  const provider = fromWebToken({
    roleArn,
    webIdentityToken,
    roleSessionName,
    clientConfig: { endpoint, region, maxAttempts: 1 },
  });
  const got = await attempt(provider());
  if (!got.ok) return got;
  const creds = got.ok;
  return {
    ok: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey,
      sessionToken: creds.sessionToken,
      expiration: creds.expiration?.toISOString(),
    },
  };
});
