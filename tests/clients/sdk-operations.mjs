// The low-level client on every public operation, the modelled error classes, and the
// headers the SDK puts on the wire (used by the CORS preflight test).
//
// input: {endpoint, region, identityPoolId, noGuestPoolId, missingPoolId, missingIdentityId,
//         providerName, providerToken}
//   identityPoolId allows guests, has roles and lists providerName as a login provider whose
//   token (providerToken) the server accepts.

import {
  CognitoIdentityServiceException,
  DescribeIdentityPoolCommand,
  GetCredentialsForIdentityCommand,
  GetIdCommand,
  GetOpenIdTokenCommand,
  InvalidParameterException,
  NotAuthorizedException,
  ResourceNotFoundException,
  UnlinkIdentityCommand,
} from "@aws-sdk/client-cognito-identity";

import { attempt, client, describeCredentials, recordHeaders, run } from "./lib.mjs";

const CLASSES = {
  NotAuthorizedException,
  ResourceNotFoundException,
  InvalidParameterException,
  CognitoIdentityServiceException,
};

run(async (params) => {
  const { endpoint, region, identityPoolId, providerName, providerToken } = params;
  const sent = [];
  const open = client({ endpoint, region });
  recordHeaders(open, sent);
  const signed = client({ endpoint, region, signed: true });
  recordHeaders(signed, sent);

  const logins = { [providerName]: providerToken };
  const guest = await open.send(new GetIdCommand({ IdentityPoolId: identityPoolId }));
  const guestToken = await open.send(new GetOpenIdTokenCommand({ IdentityId: guest.IdentityId }));
  const guestCreds = await open.send(
    new GetCredentialsForIdentityCommand({ IdentityId: guest.IdentityId }),
  );
  // The guest signs in: the same identity gains the login, then drops it again.
  const linked = await open.send(
    new GetCredentialsForIdentityCommand({ IdentityId: guest.IdentityId, Logins: logins }),
  );
  const unlink = await open.send(
    new UnlinkIdentityCommand({
      IdentityId: guest.IdentityId,
      Logins: logins,
      LoginsToRemove: [providerName],
    }),
  );
  const described = await signed.send(
    new DescribeIdentityPoolCommand({ IdentityPoolId: identityPoolId }),
  );

  const errors = {
    missingPool: await attempt(
      open.send(new GetIdCommand({ IdentityPoolId: params.missingPoolId })),
      CLASSES,
    ),
    guestsNotAllowed: await attempt(
      open.send(new GetIdCommand({ IdentityPoolId: params.noGuestPoolId })),
      CLASSES,
    ),
    missingIdentity: await attempt(
      open.send(new GetCredentialsForIdentityCommand({ IdentityId: params.missingIdentityId })),
      CLASSES,
    ),
    unsupportedLogin: await attempt(
      open.send(
        new GetIdCommand({
          IdentityPoolId: identityPoolId,
          Logins: { "accounts.google.com": providerToken },
        }),
      ),
      CLASSES,
    ),
    malformedPoolId: await attempt(
      open.send(new GetIdCommand({ IdentityPoolId: "not a pool id" })),
      CLASSES,
    ),
  };

  return {
    getId: { identityId: guest.IdentityId, status: guest.$metadata.httpStatusCode },
    getOpenIdToken: { identityId: guestToken.IdentityId, token: guestToken.Token },
    getCredentialsForIdentity: describeCredentials({
      identityId: guestCreds.IdentityId,
      accessKeyId: guestCreds.Credentials.AccessKeyId,
      secretAccessKey: guestCreds.Credentials.SecretKey,
      sessionToken: guestCreds.Credentials.SessionToken,
      expiration: guestCreds.Credentials.Expiration,
    }),
    linked: { identityId: linked.IdentityId },
    unlinkIdentity: { status: unlink.$metadata.httpStatusCode },
    describeIdentityPool: {
      identityPoolId: described.IdentityPoolId,
      allowUnauthenticatedIdentities: described.AllowUnauthenticatedIdentities,
    },
    errors,
    sentHeaders: sent,
  };
});
