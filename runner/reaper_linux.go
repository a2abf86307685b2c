package runner

func runReaper() {}
