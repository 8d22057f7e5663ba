// The app's default claims mapper for sign-in with an OpenID Connect or OAuth 2.0 provider
// (used for every provider of `selfservice.methods.oidc.config.providers` without a
// `mapper_url` of its own). It maps the provider's claims to the identity's traits: the email
// address, and the full name (`name`, or `given_name` and `family_name`). A claim the provider
// leaves out stays out, and the sign-up then asks for the trait on its `Continue` form. The
// address counts as verified when the provider says it is (`email_verified`).
local claims = std.extVar('claims');
local name =
  if 'name' in claims && claims.name != null then claims.name
  else std.join(' ', [claims[k] for k in ['given_name', 'family_name'] if k in claims && claims[k] != null]);
local verified = 'email' in claims && 'email_verified' in claims && claims.email_verified == true;
{
  identity: {
    traits: {
      [if 'email' in claims && claims.email != null then 'email']: claims.email,
      [if name != '' then 'name']: name,
    },
    verified_addresses: if verified then [{ via: 'email', value: claims.email }] else [],
  },
}
