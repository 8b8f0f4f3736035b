"""What the load generator measured: the live window, each time slice, and the pooled twin slices the page shows."""
