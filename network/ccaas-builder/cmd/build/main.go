// Command build checks a chaincode-as-a-service package's connection (see package ccaas).
package main

import (
	"os"

	ccaas "prefshare/network/ccaas-builder"
)

func main() {
	os.Exit(ccaas.Main("build", "SOURCE_DIR METADATA_DIR BUILD_DIR", 3, func(a []string) error {
		return ccaas.Build(a[0], a[2])
	}))
}
