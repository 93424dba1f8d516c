"""Officer alerts (警情通报): one action pushes a warning into every subscribed group, with a delivery report."""
