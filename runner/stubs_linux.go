package runner

func runReaper()         {}
func loadSeccomp() error { return nil }
