//go:build tools

// Package tools pins the Fabric v2.1.1 commands the network runs. Fabric 2.1 predates Go
// modules (its dependencies are locked in Gopkg.lock), so go.mod beside this file names each
// of them by version; see docs/network.md, "Why Fabric 2.1.1".
package tools

import (
	_ "github.com/hyperledger/fabric/cmd/configtxgen"
	_ "github.com/hyperledger/fabric/cmd/configtxlator"
	_ "github.com/hyperledger/fabric/cmd/discover"
	_ "github.com/hyperledger/fabric/cmd/orderer"
	_ "github.com/hyperledger/fabric/cmd/peer"
)
