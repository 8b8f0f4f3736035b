"""What the load generator sends: sessions, conversations, the corpus, follow-ups, auto mode's phases and time slices."""
