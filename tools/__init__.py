"""Maintainer scripts (publishing to the zoo, the arm64 test run); not part of the package."""
