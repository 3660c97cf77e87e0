"""Kiosk suggestions over HTTPS at offered rates: ``python -m benchmarks.kiosk``
(``make bench-kiosk``)."""
