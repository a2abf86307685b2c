package integration

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// tokenService is a token server of the Docker registry token spec
// (distribution docs/spec/auth/token.md), as Docker Hub's auth.docker.io is: anyone gets pull
// access; user and password, given as basic auth, also get push. It signs RS256 JWTs that
// docker-registry checks against the certificate in its rootcertbundle, finding the key by
// the "kid" header: libtrust's key ID of the public key.
type tokenService struct {
	user, password   string
	service, issuer  string // set by startFront
	key              *rsa.PrivateKey
	certPEM          []byte
	mu               sync.Mutex
	issued, refusals int
}

func newTokenService(t *testing.T, user, password string) *tokenService {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata test token signer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenService{
		user: user, password: password, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// Issued returns how many tokens were handed out.
func (s *tokenService) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ServeHTTP answers GET /token?service=…&scope=repository:name:pull,push.
func (s *tokenService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	authed := hasAuth && user == s.user && pass == s.password
	if hasAuth && !authed {
		s.mu.Lock()
		s.refusals++
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="strata-test"`)
		http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	granted := []access{}
	for _, scope := range r.URL.Query()["scope"] {
		parts := strings.Split(scope, ":")
		if len(parts) != 3 || parts[0] != "repository" {
			continue
		}
		var actions []string
		for _, a := range strings.Split(parts[2], ",") {
			if a == "pull" || (authed && (a == "push" || a == "*")) {
				actions = append(actions, a)
			}
		}
		granted = append(granted, access{Type: "repository", Name: parts[1], Actions: actions})
	}
	now := time.Now()
	sub := ""
	if authed {
		sub = user
	}
	claims := map[string]any{
		"iss": s.issuer, "sub": sub, "aud": s.service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(randomBytes(12)), "access": granted,
	}
	token, err := s.sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.issued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300, "issued_at": now.UTC().Format(time.RFC3339)})
}

func (s *tokenService) sign(claims map[string]any) (string, error) {
	kid, err := libtrustKeyID(&s.key.PublicKey)
	if err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": kid})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// libtrustKeyID is the key ID docker-registry gives a trusted key: the first 240 bits of the
// SHA-256 of its PKIX DER form, base32 without padding, in groups of four joined by ':'
// (github.com/docker/libtrust util.go keyIDFromCryptoKey).
func libtrustKeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	s := strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:30]), "=")
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:min(i+4, len(s))])
	}
	return strings.Join(groups, ":"), nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
