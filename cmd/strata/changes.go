package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/runner"
)

// changeCommands are the Dockerfile instructions commit's and import's -c/--change take, as
// docker's (moby's dockerfile.BuildFromConfig allows these only: its validCommitCommands,
// HEALTHCHECK and STOPSIGNAL among them, SHELL not).
var changeCommands = map[string]bool{
	"CMD": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true, "HEALTHCHECK": true,
	"LABEL": true, "ONBUILD": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

// maxChange bounds one -c value, as the config it ends in is bounded.
const maxChange = 64 << 10

// applyChanges applies docker's -c/--change instructions to cfg, in order, each value one
// instruction or several on lines of their own. An ENTRYPOINT drops the command the config
// had unless a CMD came first, as in a Dockerfile.
func applyChanges(cfg *v1.Config, changes []string) error {
	_, err := applyChangesHealth(cfg, changes)
	return err
}

// applyChangesHealth is applyChanges that also returns the healthcheck the last HEALTHCHECK
// set, whole (cfg's has no StartInterval), or nil when none did.
func applyChangesHealth(cfg *v1.Config, changes []string) (*runner.HealthConfig, error) {
	st := changeState{}
	for _, ch := range changes {
		if len(ch) > maxChange {
			return nil, fmt.Errorf("invalid --change: longer than %d bytes", maxChange)
		}
		for _, line := range strings.Split(ch, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := applyChange(cfg, line, &st); err != nil {
				return nil, fmt.Errorf("invalid --change %s: %w", quoteValue(line), err)
			}
		}
	}
	return st.health, nil
}

// changeState is what the changes applied so far leave for the next: whether a CMD was
// set, the healthcheck whole.
type changeState struct {
	cmdSet bool
	health *runner.HealthConfig
}

func applyChange(cfg *v1.Config, line string, st *changeState) error {
	word, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		word, rest = line[:i], line[i+1:]
	}
	instr := strings.ToUpper(word)
	rest = strings.TrimSpace(rest)
	if !changeCommands[instr] {
		return fmt.Errorf("%s is not a valid change command", quoteValue(word))
	}
	if rest == "" {
		return fmt.Errorf("%s requires at least one argument", instr)
	}
	switch instr {
	case "CMD":
		cfg.Cmd = commandForm(rest)
		st.cmdSet = true
	case "ENTRYPOINT":
		cfg.Entrypoint = commandForm(rest)
		if !st.cmdSet {
			cfg.Cmd = nil
		}
	case "ENV":
		pairs, err := nameValues(rest, "ENV", cfg.Env)
		if err != nil {
			return err
		}
		for _, kv := range pairs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "LABEL":
		pairs, err := nameValues(rest, "LABEL", cfg.Env)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "EXPOSE":
		words, err := splitWords(rest, cfg.Env)
		if err != nil {
			return err
		}
		for _, w := range words {
			ports, err := exposedPorts("EXPOSE", w)
			if err != nil {
				return err
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
		}
	case "USER":
		words, err := splitWords(rest, cfg.Env)
		if err != nil {
			return err
		}
		if len(words) != 1 || words[0] == "" {
			return errors.New("USER requires exactly one argument")
		}
		cfg.User = words[0]
	case "WORKDIR":
		words, err := splitWords(rest, cfg.Env)
		if err != nil {
			return err
		}
		if len(words) != 1 || words[0] == "" {
			return errors.New("WORKDIR requires exactly one argument")
		}
		dir := words[0]
		if !path.IsAbs(dir) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			dir = path.Join(base, dir)
		}
		cfg.WorkingDir = path.Clean(dir)
	case "VOLUME":
		var vols []string
		if err := json.Unmarshal([]byte(rest), &vols); err != nil || !strings.HasPrefix(rest, "[") {
			words, err := splitWords(rest, cfg.Env)
			if err != nil {
				return err
			}
			vols = words
		}
		for _, v := range vols {
			if strings.TrimSpace(v) == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		words, err := splitWords(rest, cfg.Env)
		if err != nil {
			return err
		}
		if len(words) != 1 {
			return errors.New("STOPSIGNAL requires exactly one argument")
		}
		if _, err := runner.ParseSignal(words[0]); err != nil {
			return err
		}
		cfg.StopSignal = words[0]
	case "HEALTHCHECK":
		h, err := parseHealthcheck(rest)
		if err != nil {
			return err
		}
		st.health = h
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	case "ONBUILD":
		sub, subRest, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(sub) {
		case "ONBUILD":
			return errors.New("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "FROM", "MAINTAINER":
			return fmt.Errorf("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(sub))
		}
		cfg.OnBuild = append(cfg.OnBuild, strings.TrimSpace(strings.ToUpper(sub)+" "+strings.TrimSpace(subRest)))
	}
	return nil
}

// parseHealthcheck reads HEALTHCHECK's arguments as docker's builder does (buildkit's
// parseHealthcheck): NONE, or [--interval=D] [--timeout=D] [--start-period=D]
// [--start-interval=D] [--retries=N] CMD and a command, in exec form (a JSON array: Test is
// CMD and its words) or shell form (CMD-SHELL and the line). A duration left out is 0 (the
// runtime's default), one given at least 1ms.
func parseHealthcheck(rest string) (*runner.HealthConfig, error) {
	flags := map[string]string{}
	for strings.HasPrefix(rest, "--") {
		word, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		name, value, hasValue := strings.Cut(word[2:], "=")
		switch name {
		case "interval", "timeout", "start-period", "start-interval", "retries":
		default:
			return nil, fmt.Errorf("unknown flag: %s", quoteValue(name))
		}
		if _, dup := flags[name]; dup {
			return nil, fmt.Errorf("duplicate flag specified: %s", name)
		}
		if !hasValue {
			return nil, fmt.Errorf("missing a value on flag: --%s", name)
		}
		flags[name] = value
	}
	typ, args, _ := strings.Cut(rest, " ")
	typ, args = strings.ToUpper(typ), strings.TrimSpace(args)
	switch typ {
	case "NONE":
		// Its flags are not read, as docker's builder does not read them.
		if args != "" {
			return nil, errors.New("HEALTHCHECK NONE takes no arguments")
		}
		return &runner.HealthConfig{Test: []string{"NONE"}}, nil
	case "CMD":
	case "":
		return nil, errors.New("HEALTHCHECK requires at least one argument")
	default:
		return nil, fmt.Errorf("unknown type %s in HEALTHCHECK (try CMD)", quoteValue(typ))
	}
	h := &runner.HealthConfig{}
	var words []string
	if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &words) == nil {
		h.Test = append([]string{"CMD"}, words...)
	} else if args != "" {
		words = []string{args}
		h.Test = []string{"CMD-SHELL", args}
	}
	if len(words) == 0 {
		return nil, errors.New("missing command after HEALTHCHECK CMD")
	}
	for _, f := range []struct {
		name string
		d    *time.Duration
	}{{"interval", &h.Interval}, {"timeout", &h.Timeout}, {"start-period", &h.StartPeriod}, {"start-interval", &h.StartInterval}} {
		name, d := f.name, f.d
		v, ok := flags[name]
		if !ok || v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %s is not a duration", name, quoteValue(v))
		}
		if dur != 0 && dur < time.Millisecond {
			return nil, fmt.Errorf("interval %q cannot be less than 1ms", name)
		}
		*d = dur
	}
	if v := flags["retries"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--retries: %s is not a number", quoteValue(v))
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		h.Retries = int(n)
	}
	return h, nil
}

// commandForm is CMD's or ENTRYPOINT's argument: a JSON array of strings (exec form), else a
// command for /bin/sh -c (shell form), as docker reads a value that is not valid JSON.
func commandForm(s string) []string {
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err == nil {
			return args
		}
	}
	return []string{"/bin/sh", "-c", s}
}

// setEnv sets key in env (KEY=VALUE entries), in place of an entry it had.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	set := false
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			if !set {
				out = append(out, key+"="+value)
				set = true
			}
			continue
		}
		out = append(out, kv)
	}
	if !set {
		out = append(out, key+"="+value)
	}
	return out
}

// nameValues reads ENV's and LABEL's arguments: name=value words (quoted as in a shell), or
// the old form "name value with spaces" for one pair.
func nameValues(s, instr string, env []string) ([][2]string, error) {
	words, err := splitWords(s, env)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && !strings.Contains(firstWordRaw(s), "=") {
		// The old form: the first word is the name, the rest of the line the value.
		name := words[0]
		rest, err := splitWords(strings.TrimPrefix(strings.TrimSpace(s), firstWordRaw(s)), env)
		if err != nil {
			return nil, err
		}
		value := strings.Join(rest, " ")
		if value == "" {
			return nil, fmt.Errorf("%s names %s with no value", instr, quoteValue(name))
		}
		return [][2]string{{name, value}}, checkName(name, instr)
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %s is not name=value", instr, quoteValue(w))
		}
		if err := checkName(k, instr); err != nil {
			return nil, err
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func checkName(name, instr string) error {
	if name == "" {
		return fmt.Errorf("%s names must not be empty", instr)
	}
	if instr == "ENV" && strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("ENV name %s is not valid", quoteValue(name))
	}
	return nil
}

// firstWordRaw is s's first space-separated word as written.
func firstWordRaw(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// splitWords splits s on unquoted blanks, as the Dockerfile parser does for these
// instructions: "double quotes" take backslash escapes, 'single quotes' none, and a
// backslash outside quotes escapes the next character. $NAME, ${NAME}, ${NAME:-word} and
// ${NAME:+word} outside single quotes are replaced from env (the config's, as the
// instruction finds it), as docker's commit replaces them.
func splitWords(s string, env []string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case c == '$':
			inWord = true
			n, err := expandVar(&cur, s[i:], env)
			if err != nil {
				return nil, err
			}
			i += n - 1
		case c == '"' || c == '\'':
			inWord = true
			end := -1
			for j := i + 1; j < len(s); j++ {
				if c == '"' && s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\' || s[j+1] == '$') {
					cur.WriteByte(s[j+1])
					j++
					continue
				}
				if c == '"' && s[j] == '$' {
					n, err := expandVar(&cur, s[j:], env)
					if err != nil {
						return nil, err
					}
					j += n - 1
					continue
				}
				if s[j] == c {
					end = j
					break
				}
				cur.WriteByte(s[j])
			}
			if end < 0 {
				return nil, fmt.Errorf("unmatched %c quote", c)
			}
			i = end
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// expandVar writes the value of the variable s starts with ("$NAME..." or "${...}") to b and
// returns how many bytes of s it took; a "$" that starts no name is itself.
func expandVar(b *strings.Builder, s string, env []string) (int, error) {
	isName := func(c byte, first bool) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	if len(s) > 1 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, errors.New("missing '}' in a ${...} substitution")
		}
		expr := s[2:end]
		name, word, op := expr, "", ""
		if i := strings.Index(expr, ":"); i >= 0 {
			name, op = expr[:i], expr[i:]
			if len(op) < 2 || (op[1] != '-' && op[1] != '+') {
				return 0, fmt.Errorf("unsupported modifier in ${%s}", expr)
			}
			word, op = op[2:], op[:2]
		}
		for i := 0; i < len(name); i++ {
			if !isName(name[i], i == 0) {
				return 0, fmt.Errorf("bad substitution ${%s}", expr)
			}
		}
		if name == "" {
			return 0, errors.New("bad substitution ${}")
		}
		v, _ := lookupEnv(env, name)
		switch {
		case op == ":-" && v == "":
			v = word
		case op == ":+" && v != "":
			v = word
		case op == ":+":
			v = ""
		}
		b.WriteString(v)
		return end + 1, nil
	}
	n := 1
	for n < len(s) && isName(s[n], n == 1) {
		n++
	}
	if n == 1 {
		b.WriteByte('$')
		return 1, nil
	}
	v, _ := lookupEnv(env, s[1:n])
	b.WriteString(v)
	return n, nil
}

// lookupEnv is the value of name in env (KEY=VALUE entries, the last one winning).
func lookupEnv(env []string, name string) (string, bool) {
	v, set := "", false
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v, set = val, true
		}
	}
	return v, set
}

// exposedPorts are an EXPOSE word (or an --expose value; what names which in an error) as an
// image config keys them: "80" is "80/tcp", and a range "8000-8002/udp" each of its ports, as
// docker's nat.ParsePortSpecs reads them.
func exposedPorts(what, w string) ([]string, error) {
	port, proto, ok := strings.Cut(w, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("%s %s: protocol must be tcp, udp or sctp", what, quoteValue(w))
	}
	lo, hi, isRange := strings.Cut(port, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return nil, fmt.Errorf("%s %s: invalid port", what, quoteValue(w))
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return nil, fmt.Errorf("%s %s: invalid port range", what, quoteValue(w))
		}
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
	}
	return out, nil
}
