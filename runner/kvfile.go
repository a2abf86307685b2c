package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/strata-run/strata/internal/quote"
)

// readKVFile reads a file the user named with --env-file or --label-file (what: "env",
// "label") as docker's parseKeyValueFile does, and calls line for each line that holds
// something: a UTF-8 byte-order mark opening the file (an editor's on Windows) and whitespace
// opening a line are skipped, blank lines and lines starting with '#' ignored. The file is
// bounded to maxFile bytes and a line to maxLine; a line of invalid UTF-8 is refused. Every
// error is one line naming the file (quoted once: the PathError's "open : no such file" left
// an empty name unseen) and, for a line's, its number.
func readKVFile(what, path string, maxFile int64, maxLine int, line func(text string) error) error {
	data, err := ReadUserFile(path, maxFile)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("reading %s file %s: %w", what, quote.Value(path), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 1
	for ; sc.Scan(); n++ {
		if !utf8.Valid(sc.Bytes()) {
			return fmt.Errorf("%s file %s line %d: invalid UTF-8", what, quote.Value(path), n)
		}
		text := sc.Text()
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if err := line(text); err != nil {
			return fmt.Errorf("%s file %s line %d: %w", what, quote.Value(path), n, err)
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		// bufio's "token too long" named neither the line nor the bound.
		return fmt.Errorf("%s file %s line %d: longer than %d bytes", what, quote.Value(path), n, maxLine)
	} else if err != nil {
		return fmt.Errorf("reading %s file %s: %w", what, quote.Value(path), err)
	}
	return nil
}
