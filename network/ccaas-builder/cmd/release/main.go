// Command release hands the peer a chaincode server's connection (see package ccaas).
package main

import (
	"os"

	ccaas "prefshare/network/ccaas-builder"
)

func main() {
	os.Exit(ccaas.Main("release", "BUILD_DIR RELEASE_DIR", 2, func(a []string) error {
		return ccaas.Release(a[0], a[1])
	}))
}
