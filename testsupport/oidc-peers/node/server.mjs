// A real OpenID Provider (the `oidc-provider` package) for kratos-rs tests, on 127.0.0.1.
//
// The Rust side (`kratos_test_peers::NodeProvider`) passes the configuration as JSON in the
// `KRATOS_TEST_OIDC_CONFIG` environment variable and waits for the ready line this script
// prints once the provider serves:
//
//   kratos-test-oidc-provider ready <issuer>
//
// The server listens first (port 0) so the issuer can name the port it got. It exits when its
// standard input closes, so a parent that dies without killing it does not leave it behind.
import { randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.KRATOS_TEST_OIDC_CONFIG ?? '{}');
const accounts = config.accounts ?? {};

// The subject of a login: its configured account's `sub`, or `acct-` and the login's UTF-8
// bytes in hex (the same derivation as `Account::derived` on the Rust side).
function subjectOf(login) {
  return accounts[login]?.sub ?? `acct-${Buffer.from(login, 'utf8').toString('hex')}`;
}

// The login of a subject: the package keeps the subject as the account id, so `findAccount`
// gets subjects and maps them back.
function loginOf(sub) {
  for (const [login, account] of Object.entries(accounts)) {
    if (account.sub === sub) {
      return login;
    }
  }
  if (sub.startsWith('acct-')) {
    return Buffer.from(sub.slice('acct-'.length), 'hex').toString('utf8');
  }
  return sub;
}

// The claims of a login: its configured account, or ones derived from the login alone (the
// same derivation as `Account::derived` on the Rust side).
function claimsOf(login) {
  const email = login.includes('@') ? login : `${login}@example.test`;
  const local = email.split('@')[0];
  const derived = {
    sub: subjectOf(login),
    email,
    email_verified: true,
    name: `${local} Tester`,
    given_name: local,
    family_name: 'Tester',
  };
  const claims = { ...derived };
  for (const [key, value] of Object.entries(accounts[login] ?? {})) {
    if (value !== null && value !== undefined) {
      claims[key] = value;
    }
  }
  return claims;
}

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((client) => ({
    client_id: client.client_id,
    ...(client.client_secret ? { client_secret: client.client_secret } : {}),
    redirect_uris: client.redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  })),
  pkce: {
    required: (_ctx, client) => Boolean(config.pkce_required) || client.clientAuthMethod === 'none',
  },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  // Claims of the granted scopes in the ID token too, not only at the userinfo endpoint.
  conformIdTokenClaims: !(config.claims_in_id_token ?? true),
  // Signed cookies; on plain http the package leaves their `Secure` flag off (it sets it only
  // when the request came over https), so a browser keeps them on the loopback address.
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: true } },
  // The account id is the subject (the package puts it in `sub`).
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return claimsOf(loginOf(sub));
      },
    };
  },
});

// The development login page makes the login name the account id; the subject must be, so the
// login form's `login` is replaced by its subject before the package reads the body (it then
// takes the body from `req.body`, and warns once that it did).
// The package's pages import a web font from fonts.googleapis.com; this policy keeps a browser
// on the loopback address (the package adds its inline scripts' hashes to `script-src`).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
const callback = provider.callback();
server.on('request', async (req, res) => {
  res.setHeader('Content-Security-Policy', contentSecurityPolicy);
  const form = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
  if (req.method === 'POST' && req.url.startsWith('/interaction/') && form) {
    const chunks = [];
    try {
      for await (const chunk of req) {
        chunks.push(chunk);
      }
    } catch {
      res.destroy();
      return;
    }
    const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (body.get('prompt') === 'login' && body.has('login')) {
      body.set('login', subjectOf(body.get('login')));
    }
    req.body = body.toString();
  }
  callback(req, res);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

console.log(`kratos-test-oidc-provider ready ${issuer}`);
