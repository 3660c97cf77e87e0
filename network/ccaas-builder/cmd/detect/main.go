// Command detect claims chaincode-as-a-service packages for the peer (see package ccaas).
package main

import (
	"os"

	ccaas "prefshare/network/ccaas-builder"
)

func main() {
	os.Exit(ccaas.Main("detect", "SOURCE_DIR METADATA_DIR", 2, func(a []string) error {
		return ccaas.Detect(a[1])
	}))
}
