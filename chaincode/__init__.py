"""prefshare chaincode package."""
