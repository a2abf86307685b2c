package main

import (
	"errors"
	"strconv"

	"github.com/spf13/cobra"
)

// contentTrustFlag is docker's --disable-content-trust (of run, create, pull and push), which
// scripts pass to skip Docker Content Trust (Notary) signatures. strata has none to skip: it
// checks every blob against its digest, as docker does without content trust. So the flag, as
// docker's default, true, is accepted, and =false, which asks for signatures, is refused rather
// than pulling an unsigned image the script meant to have verified.
type contentTrustFlag struct{}

func (contentTrustFlag) String() string { return "true" }
func (contentTrustFlag) Type() string   { return "bool" }

func (contentTrustFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	if !v {
		return errors.New("strata has no Docker Content Trust (Notary signatures) to enable; images are verified by their digests")
	}
	return nil
}

func addContentTrustFlag(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Var(contentTrustFlag{}, "disable-content-trust", "accepted for docker's scripts: strata has no content trust (Notary) to skip; every blob is verified by its digest")
	f.Lookup("disable-content-trust").NoOptDefVal = "true"
}
