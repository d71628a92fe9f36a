// Command gojwt signs and validates HMAC JWTs exactly the way go-oversync's reference server does
// (examples/internal/exampleauth on github.com/golang-jwt/jwt/v5 v5.3.1), using only the Go
// standard library, so that the C++ oversync::jwt library can be checked against Go's real
// encoding/json, encoding/base64 and time semantics (tests/jwt_go/jwt_go_cross_test.cc).
//
// The golang-jwt pieces the reference relies on are mirrored here: the header map and claims
// struct marshalling of Token.SignedString, RegisteredClaims with NumericDate (TimePrecision one
// second) and ClaimStrings, Parser.ParseWithClaims with the default (non-strict) RawURLEncoding,
// the default Validator (exp and nbf without leeway, iat not verified) and exampleauth's key
// function (HMAC methods only) and subject check.
//
// Protocol: one request per stdin line, one answer per stdout line, fields separated by single
// spaces; byte strings are hex-encoded, "-" means "absent".
//
//	sign <secret> <sub> <iss> <iat|-> <nbf|-> <exp|->  -> OK <token>
//	issue <secret> <user> <now_unix_ns> <lifetime_s>   -> OK <token>   (exampleauth.GenerateToken)
//	verify <secret> <now_unix_ns> <token>              -> OK <user_id> <alg> <exp|-> <nbf|-> <iat|->
//	                                                   or ERR <message>
//
// Tokens in answers are plain text; user ids are hex. Exit status 0 unless a request line is
// malformed (then 2).
package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// NumericDate mirrors jwt.NumericDate with TimePrecision = time.Second.
type NumericDate struct {
	time.Time
}

func NewNumericDate(t time.Time) *NumericDate {
	return &NumericDate{t.Truncate(time.Second)}
}

func (date NumericDate) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatInt(date.Truncate(time.Second).Unix(), 10)), nil
}

func (date *NumericDate) UnmarshalJSON(b []byte) error {
	var number json.Number
	if err := json.Unmarshal(b, &number); err != nil {
		return fmt.Errorf("could not parse NumericData: %w", err)
	}
	f, err := number.Float64()
	if err != nil {
		return fmt.Errorf("could not convert json number value to float: %w", err)
	}
	round, frac := math.Modf(f)
	*date = *NewNumericDate(time.Unix(int64(round), int64(frac*1e9)))
	return nil
}

// ClaimStrings mirrors jwt.ClaimStrings.
type ClaimStrings []string

var errInvalidType = errors.New("invalid type for claim")

func (s *ClaimStrings) UnmarshalJSON(data []byte) error {
	var value any
	if err := json.Unmarshal(data, &value); err != nil {
		return err
	}
	var aud []string
	switch v := value.(type) {
	case string:
		aud = append(aud, v)
	case []any:
		for _, vv := range v {
			vs, ok := vv.(string)
			if !ok {
				return errInvalidType
			}
			aud = append(aud, vs)
		}
	case nil:
		return nil
	default:
		return errInvalidType
	}
	*s = aud
	return nil
}

func (s ClaimStrings) MarshalJSON() ([]byte, error) {
	return json.Marshal([]string(s))
}

// RegisteredClaims mirrors jwt.RegisteredClaims (same JSON names, types and order).
type RegisteredClaims struct {
	Issuer    string       `json:"iss,omitempty"`
	Subject   string       `json:"sub,omitempty"`
	Audience  ClaimStrings `json:"aud,omitempty"`
	ExpiresAt *NumericDate `json:"exp,omitempty"`
	NotBefore *NumericDate `json:"nbf,omitempty"`
	IssuedAt  *NumericDate `json:"iat,omitempty"`
	ID        string       `json:"jti,omitempty"`
}

// Claims mirrors exampleauth.Claims.
type Claims struct {
	RegisteredClaims
}

// claimsInterface stands in for the jwt.Claims interface the parser unmarshals through.
type claimsInterface interface {
	subject() string
}

func (c *Claims) subject() string { return c.Subject }

func hashFor(alg string) (func() hash.Hash, bool) {
	switch alg {
	case "HS256":
		return sha256.New, true
	case "HS384":
		return sha512.New384, true
	case "HS512":
		return sha512.New, true
	}
	return nil, false
}

// Every "alg" golang-jwt registers; exampleauth's key function rejects the non-HMAC ones.
var knownNonHmac = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "ES256": true, "ES384": true, "ES512": true,
	"PS256": true, "PS384": true, "PS512": true, "EdDSA": true, "none": true,
}

func sign(claims *Claims, secret []byte) (string, error) {
	header, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "HS256"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil)), nil
}

// verify is ParseWithClaims(token, &Claims{}, exampleauth key function) followed by
// exampleauth.ValidateToken's subject check, at time `now`.
func verify(token string, secret []byte, now time.Time) (*Claims, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, "", errors.New("token contains an invalid number of segments")
	}
	enc := base64.RawURLEncoding
	headerBytes, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, "", fmt.Errorf("could not base64 decode header: %w", err)
	}
	var header map[string]any
	if err := json.Unmarshal(headerBytes, &header); err != nil {
		return nil, "", fmt.Errorf("could not JSON decode header: %w", err)
	}
	claimBytes, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, "", fmt.Errorf("could not base64 decode claim: %w", err)
	}
	claims := &Claims{}
	var target claimsInterface = claims
	if err := json.Unmarshal(claimBytes, &target); err != nil {
		return nil, "", fmt.Errorf("could not JSON decode claim: %w", err)
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return nil, "", errors.New("signing method (alg) is unspecified")
	}
	newHash, isHmac := hashFor(alg)
	if !isHmac {
		if knownNonHmac[alg] {
			return nil, "", fmt.Errorf("unexpected signing method: %v", alg)
		}
		return nil, "", errors.New("signing method (alg) is unavailable")
	}
	signature, err := enc.DecodeString(parts[2])
	if err != nil {
		return nil, "", fmt.Errorf("could not base64 decode signature: %w", err)
	}
	mac := hmac.New(newHash, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(signature, mac.Sum(nil)) {
		return nil, "", errors.New("signature is invalid")
	}
	if claims.ExpiresAt != nil && !now.Before(claims.ExpiresAt.Time) {
		return nil, "", errors.New("token is expired")
	}
	if claims.NotBefore != nil && now.Before(claims.NotBefore.Time) {
		return nil, "", errors.New("token is not valid yet")
	}
	if strings.TrimSpace(claims.Subject) == "" {
		return nil, "", errors.New("missing sub (user ID) in token")
	}
	return claims, alg, nil
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail("bad hex %q", s)
	}
	return b
}

func optionalDate(s string) *NumericDate {
	if s == "-" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fail("bad date %q", s)
	}
	return NewNumericDate(time.Unix(v, 0))
}

func dateField(d *NumericDate) string {
	if d == nil {
		return "-"
	}
	return strconv.FormatInt(d.Unix(), 10)
}

func parseInt(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fail("bad integer %q", s)
	}
	return v
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gojwt: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<16), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Split(in.Text(), " ")
		switch {
		case f[0] == "sign" && len(f) == 7:
			claims := &Claims{RegisteredClaims{
				Subject:   string(unhex(f[2])),
				Issuer:    string(unhex(f[3])),
				IssuedAt:  optionalDate(f[4]),
				NotBefore: optionalDate(f[5]),
				ExpiresAt: optionalDate(f[6]),
			}}
			token, err := sign(claims, unhex(f[1]))
			if err != nil {
				fail("sign: %v", err)
			}
			fmt.Fprintf(out, "OK %s\n", token)
		case f[0] == "issue" && len(f) == 5:
			// exampleauth.GenerateToken with time.Now() replaced by the given instant.
			now := time.Unix(0, parseInt(f[3]))
			lifetime := time.Duration(parseInt(f[4])) * time.Second
			claims := &Claims{RegisteredClaims{
				ExpiresAt: NewNumericDate(now.Add(lifetime)),
				IssuedAt:  NewNumericDate(now),
				NotBefore: NewNumericDate(now),
				Issuer:    "go-oversync-examples",
				Subject:   strings.TrimSpace(string(unhex(f[2]))),
			}}
			token, err := sign(claims, unhex(f[1]))
			if err != nil {
				fail("issue: %v", err)
			}
			fmt.Fprintf(out, "OK %s\n", token)
		case f[0] == "verify" && len(f) == 4:
			now := time.Unix(0, parseInt(f[2]))
			claims, alg, err := verify(string(unhex(f[3])), unhex(f[1]), now)
			if err != nil {
				fmt.Fprintf(out, "ERR %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				continue
			}
			fmt.Fprintf(out, "OK %s %s %s %s %s\n", hex.EncodeToString([]byte(strings.TrimSpace(claims.Subject))),
				alg, dateField(claims.ExpiresAt), dateField(claims.NotBefore), dateField(claims.IssuedAt))
		default:
			fail("bad request line %q", in.Text())
		}
	}
	if err := in.Err(); err != nil {
		fail("reading stdin: %v", err)
	}
}
