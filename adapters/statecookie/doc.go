// Package statecookie reads and writes Gafaelfawr's state cookie, the
// browser session of a user who logged in through Gafaelfawr.
//
// The cookie is named "gafaelfawr" (Name). Its value is a Fernet token,
// made with Gafaelfawr's session secret (the same key that seals token data
// in Redis), whose plaintext is the JSON of Gafaelfawr's cookie state: an
// object whose "token" member, when the user is logged in, is the session
// token in its "gt-<key>.<secret>" form. The other members (a CSRF token,
// a return URL, login state) are checked only for their types, as
// Gafaelfawr's State model checks them: a state it refuses, token and all,
// is refused here too. As in Gafaelfawr, a value that does not decrypt, is
// not such JSON, or holds no token counts as no session at all, and the
// token's age is not checked: the token store's expiry is what ends a
// session.
//
// The package opens values with internal/fernetbox. Nothing it returns,
// including its errors, ever contains the session secret or a token.
package statecookie
