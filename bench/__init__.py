"""A load generator for Cognito Identity endpoints (idpool, moto, anything speaking AWS JSON 1.1).

It lives outside `src/idpool` on purpose: it is a measuring instrument, not part of the product,
and it must be able to measure servers that share no code with idpool. Run it with
`python -m bench` or `scripts/bench`; see bench/README.md.
"""
