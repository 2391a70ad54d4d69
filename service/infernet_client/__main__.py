"""`python -m infernet_client`, as with the official package."""

from infernet_client import main

main()
