"""prefshare gateway package: the Fabric Gateway client and the retailer's REST gateway."""
