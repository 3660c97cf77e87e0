module prefshare/network/ccaas-builder

go 1.26
