package exchange

import (
	"bytes"
	"strings"
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

// scramUser reads the user name from a SCRAM client-first message
// (RFC 5802: gs2-header "n,," then "n=user,r=nonce"). The later client
// message carries the proof, never the password; nothing else is read.
func scramUser(tok []byte) (string, bool) {
	s := string(tok)
	// gs2 header: "n,," / "y,," / "p=cb,", optionally with "a=authzid".
	i := strings.Index(s, ",n=")
	if i < 0 || !(strings.HasPrefix(s, "n,") || strings.HasPrefix(s, "y,") || strings.HasPrefix(s, "p=")) {
		return "", false
	}
	user := s[i+3:]
	if j := strings.IndexByte(user, ','); j >= 0 {
		user = user[:j]
	} else {
		return "", false
	}
	// RFC 5802 escapes ',' and '=' in names as =2C and =3D.
	user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(user)
	if user == "" || len(user) > 255 || !printable([]byte(user)) {
		return "", false
	}
	return user, true
}
