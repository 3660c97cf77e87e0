package ccaas

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The builder only checks that PEM blocks of the right kind are there; a throwaway key made
// per run keeps key material out of the repository.
const pemCert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

var pemKey = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}()

func good() Connection {
	return Connection{Address: "127.0.0.1:7160", DialTimeout: "10s", TLSRequired: true,
		ClientAuthRequired: true, ClientKey: pemKey, ClientCert: pemCert, RootCert: pemCert}
}

func writeJSON(t *testing.T, dir, name string, v any) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectClaimsOnlyCCaaSPackages(t *testing.T) {
	for typ, want := range map[string]error{"ccaas": nil, "CCaaS": nil, "golang": ErrNotClaimed,
		"external": ErrNotClaimed, "": ErrNotClaimed} {
		dir := t.TempDir()
		writeJSON(t, dir, "metadata.json", map[string]string{"type": typ, "label": "prefshare_1.0"})
		if err := Detect(dir); !errors.Is(err, want) {
			t.Errorf("type %q: got %v, want %v", typ, err, want)
		}
	}
}

func TestDetectFailsOnMissingOrMalformedMetadata(t *testing.T) {
	dir := t.TempDir()
	if err := Detect(dir); err == nil || errors.Is(err, ErrNotClaimed) {
		t.Errorf("missing metadata.json: got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "metadata.json"), []byte("{not json"), 0o644)
	if err := Detect(dir); err == nil || !strings.Contains(err.Error(), "metadata.json") {
		t.Errorf("malformed metadata.json: got %v", err)
	}
}

func TestBuildThenReleaseHandsThePeerTheConnectionUnchanged(t *testing.T) {
	src, bld, rel := t.TempDir(), t.TempDir(), t.TempDir()
	writeJSON(t, src, ConnectionFile, good())
	want, _ := os.ReadFile(filepath.Join(src, ConnectionFile))
	if err := Build(src, bld); err != nil {
		t.Fatal(err)
	}
	if err := Release(bld, rel); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(rel, "chaincode", "server", "connection.json")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("released %s, want %s", got, want)
	}
	// It carries the peer's TLS client key: owner-only.
	for _, p := range []string{filepath.Join(bld, ConnectionFile), path} {
		info, _ := os.Stat(p)
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", p, info.Mode().Perm())
		}
	}
}

func TestBuildRefusesBadConnectionsNamingTheField(t *testing.T) {
	cases := map[string]func(c *Connection){
		"address":      func(c *Connection) { c.Address = "no-port" },
		"port":         func(c *Connection) { c.Address = "127.0.0.1:70000" },
		"dial_timeout": func(c *Connection) { c.DialTimeout = "soon" },
		"tls_required": func(c *Connection) { c.TLSRequired = false },
		"root_cert":    func(c *Connection) { c.RootCert = "" },
		"client_cert":  func(c *Connection) { c.ClientCert = "" },
	}
	for field, spoil := range cases {
		src := t.TempDir()
		c := good()
		spoil(&c)
		writeJSON(t, src, ConnectionFile, c)
		bld := t.TempDir()
		err := Build(src, bld)
		if err == nil || !strings.Contains(err.Error(), strings.Split(field, "_")[0]) {
			t.Errorf("%s: got %v", field, err)
		}
		if _, statErr := os.Stat(filepath.Join(bld, ConnectionFile)); statErr == nil {
			t.Errorf("%s: a refused connection was written", field)
		}
	}
}

func TestBuildRefusesUnknownFieldsAndMissingFile(t *testing.T) {
	src := t.TempDir()
	if err := Build(src, t.TempDir()); err == nil {
		t.Error("no connection.json: built anyway")
	}
	raw, _ := json.Marshal(good())
	withExtra := strings.Replace(string(raw), "{", `{"adress":"x",`, 1)
	os.WriteFile(filepath.Join(src, ConnectionFile), []byte(withExtra), 0o644)
	if err := Build(src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Errorf("unknown field: got %v", err)
	}
}
