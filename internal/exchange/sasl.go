package exchange

import (
	"bytes"
	"unicode/utf8"
)

// plainUser reads the user name from a SASL PLAIN token (RFC 4616:
// authzid NUL authcid NUL passwd) and returns nothing else: the password is
// never copied out of the token.
//
// The mechanism is agreed in the SaslHandshake that precedes the
// SaslAuthenticate, which a Pair does not carry, so the token is recognised
// by its shape: exactly two NULs, and an authzid and user of printable
// UTF-8. The tokens of the other mechanisms do not have it: SCRAM and
// OAUTHBEARER messages are text without NULs (RFC 5802, RFC 7628), and
// GSSAPI tokens are binary Kerberos structures whose control bytes fail the
// printable test. Whatever is not recognised yields nothing.
func plainUser(tok []byte) (string, bool) {
	if bytes.Count(tok, []byte{0}) != 2 {
		return "", false
	}
	i := bytes.IndexByte(tok, 0)
	j := i + 1 + bytes.IndexByte(tok[i+1:], 0)
	authzid, user := tok[:i], tok[i+1:j]
	if len(user) == 0 || len(user) > 255 || !printable(authzid) || !printable(user) {
		return "", false
	}
	return string(user), true
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
