//go:build tools

// Package tools pins the Fabric CA commands that the network is built from.
// A module-local pin is used because `go install pkg@version` asks the module
// proxy for the module's version list, which the proxy here refuses.
package tools

import (
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-client"
	_ "github.com/hyperledger/fabric-ca/cmd/fabric-ca-server"
)
