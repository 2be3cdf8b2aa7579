// An OpenID Connect provider for the tests: node-oidc-provider (npm `oidc-provider`, pinned in
// the repository's package.json) issuing RFC 9068 JWT access tokens by the client-credentials
// grant. Started by platone-testkit's `OidcProvider` with one argument, a JSON file:
//   {"issuer": "http://127.0.0.1:PORT", "port": PORT, "audience": "platone-bal", "dir": DIR,
//    "clients": [{"id": "...", "secret": "...", "roles": ["..."]}]}
// It writes its signing key to DIR (signing-key.der, PKCS#1; signing-key.kid;
// signing-key.pub.pem).
// Each start signs with a new RSA key (a new `kid`): restarting it rotates the key. The roles
// go into `realm_access.roles`, as Keycloak puts them. Prints `listening` once it listens.
import { readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
// The key as files, so that tests can forge tokens a real issuer's key signed (expired, for
// another audience…) and try the public key as an HMAC secret.
writeFileSync(`${config.dir}/signing-key.der`, privateKey.export({ type: 'pkcs1', format: 'der' }), { mode: 0o600 });
writeFileSync(`${config.dir}/signing-key.kid`, signingKey.kid);
writeFileSync(`${config.dir}/signing-key.pub.pem`, publicKey.export({ type: 'spki', format: 'pem' }));
const roles = Object.fromEntries(config.clients.map((c) => [c.id, c.roles]));

const provider = new Provider(config.issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.id,
    client_secret: c.secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [signingKey] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Resource indicators are absolute URIs; the token's `aud` is the configured audience.
      defaultResource: () => 'urn:platone:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: config.audience,
        accessTokenTTL: 300,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (_ctx, token) =>
    token.clientId ? { realm_access: { roles: roles[token.clientId] ?? [] } } : undefined,
});

const server = provider.listen(config.port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
