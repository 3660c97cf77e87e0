// Package ccaas is the peer's external builder for chaincode-as-a-service packages.
//
// The peer runs three programs of a builder (Fabric's "External Builders and Launchers"):
//
//	detect SOURCE_DIR METADATA_DIR            exit 0 to claim the package
//	build  SOURCE_DIR METADATA_DIR BUILD_DIR  turn the package into build output
//	release BUILD_DIR RELEASE_DIR             give the peer chaincode/server/connection.json
//
// A prefshare package (network/chaincode_package.py) holds metadata.json with type "ccaas"
// and a code.tar.gz with one connection.json: where its organisation's chaincode server
// listens and the TLS material to reach it. Fabric ships such a builder in its own module;
// it is written here (about a hundred lines, standard library only) because that module
// cannot be fetched on this project's machines (docs/blockers.md). Unlike Fabric's, it
// refuses a connection without TLS: prefshare's chaincode servers never run without it.
package ccaas

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PackageType is the metadata.json type this builder claims.
const PackageType = "ccaas"

// ConnectionFile is the name of the connection description in the package and build output.
const ConnectionFile = "connection.json"

// ReleasePath is where the peer reads a chaincode server's connection, under RELEASE_DIR.
var ReleasePath = filepath.Join("chaincode", "server", ConnectionFile)

// ErrNotClaimed means the package is not a chaincode-as-a-service package.
var ErrNotClaimed = errors.New("not a " + PackageType + " package")

// Connection is connection.json as Fabric's peer reads it (PEM material inline).
type Connection struct {
	Address            string `json:"address"`
	Domain             string `json:"domain,omitempty"`
	DialTimeout        string `json:"dial_timeout,omitempty"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required"`
	ClientKey          string `json:"client_key,omitempty"`
	ClientCert         string `json:"client_cert,omitempty"`
	RootCert           string `json:"root_cert,omitempty"`
}

// Check says what is wrong with a connection, naming the field.
func (c Connection) Check() error {
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil || host == "" {
		return fmt.Errorf("address: %q is not host:port", c.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address: port %q is out of range", port)
	}
	if c.DialTimeout != "" {
		if d, err := time.ParseDuration(c.DialTimeout); err != nil || d <= 0 {
			return fmt.Errorf("dial_timeout: %q is not a positive duration", c.DialTimeout)
		}
	}
	if !c.TLSRequired {
		return errors.New("tls_required: must be true (prefshare never talks to chaincode in the clear)")
	}
	if !strings.Contains(c.RootCert, "BEGIN CERTIFICATE") {
		return errors.New("root_cert: a PEM certificate is required with TLS")
	}
	if c.ClientAuthRequired && (!strings.Contains(c.ClientCert, "BEGIN CERTIFICATE") ||
		!strings.Contains(c.ClientKey, "PRIVATE KEY")) {
		return errors.New("client_cert, client_key: PEM material is required with client_auth_required")
	}
	return nil
}

type metadata struct {
	Type  string `json:"type"`
	Label string `json:"label"`
}

// Detect claims the package whose metadata.json has type "ccaas" (any case).
func Detect(metadataDir string) error {
	raw, err := os.ReadFile(filepath.Join(metadataDir, "metadata.json"))
	if err != nil {
		return err
	}
	var md metadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return fmt.Errorf("metadata.json: %w", err)
	}
	if !strings.EqualFold(md.Type, PackageType) {
		return ErrNotClaimed
	}
	return nil
}

// readConnection reads and checks dir/connection.json, refusing unknown fields.
func readConnection(dir string) ([]byte, error) {
	path := filepath.Join(dir, ConnectionFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var c Connection
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", ConnectionFile, err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ConnectionFile, err)
	}
	return raw, nil
}

// writePrivate writes data readable by the owner only: connection.json may hold a TLS key.
func writePrivate(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Build checks the package's connection.json and copies it, unchanged, to the build output.
func Build(sourceDir, buildDir string) error {
	raw, err := readConnection(sourceDir)
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(buildDir, ConnectionFile), raw)
}

// Release gives the peer the built connection at chaincode/server/connection.json.
func Release(buildDir, releaseDir string) error {
	raw, err := readConnection(buildDir)
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(releaseDir, ReleasePath), raw)
}

// Main runs one program: it checks the argument count, runs step and maps its error to the
// exit code the peer reads (0 done, 1 not claimed or failed, 2 misuse), with one line on stderr.
func Main(name string, usage string, nargs int, step func(args []string) error) int {
	args := os.Args[1:]
	if len(args) != nargs {
		fmt.Fprintf(os.Stderr, "%s: usage: %s %s\n", name, name, usage)
		return 2
	}
	if err := step(args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
