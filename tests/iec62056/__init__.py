"""Tests of the IEC 62056-21 protocol library."""
