"""Small, dependency-free report figures (PDF), fast enough for every job."""
