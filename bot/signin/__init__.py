"""Sign-in for privileged actions (delegated mode): which runs need a person's own Graph token, getting it from the
Bot Framework token service through the click (Universal Actions sign-in), and nothing of it kept."""
