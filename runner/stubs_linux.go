package runner

func runMonitor()        {}
func runReaper()         {}
func loadSeccomp() error { return nil }
