package runner

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/strata-run/strata/internal/quote"
)

// validName reports whether s follows docker's rule for container names,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*. (No regexp: package init runs in every re-exec'd init too.)
func validName(s string) bool {
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '_' && r != '.' && r != '-') {
			return false
		}
	}
	return s != "" && len(s) <= maxNameLen
}

// validNewName reports whether s may be given to a container now: docker's pattern is
// [a-zA-Z0-9][a-zA-Z0-9_.-]+, two characters at least. validName stays lenient for the
// names of containers already in a store, which earlier strata gave one character.
func validNewName(s string) bool {
	return len(s) >= 2 && validName(s)
}

// maxNameLen keeps a name a valid file name: names are reserved as files (nameindex.go).
const maxNameLen = 255

// invalidNameError says why name cannot name a container.
func invalidNameError(name string) error {
	return fmt.Errorf("invalid container name %s: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, 2 to %d of them", quote.Value(name), maxNameLen)
}

// Word lists for generated names, in the spirit of docker's namesgenerator.
var (
	nameAdjectives = []string{
		"admiring", "agitated", "amazing", "angry", "awesome", "blissful", "bold", "boring",
		"brave", "busy", "charming", "clever", "cool", "dazzling", "determined", "eager",
		"ecstatic", "elastic", "elated", "epic", "focused", "friendly", "gallant", "gifted",
		"goofy", "gracious", "happy", "hopeful", "infallible", "inspiring", "jolly", "keen",
		"kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "nice",
		"nostalgic", "objective", "optimistic", "peaceful", "pensive", "practical", "quirky",
		"quizzical", "relaxed", "reverent", "romantic", "serene", "sharp", "silly", "sleepy",
		"stoic", "strange", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant",
		"vigilant", "wizardly", "wonderful", "youthful", "zealous", "zen",
	}
	nameNouns = []string{
		"agnesi", "albattani", "archimedes", "babbage", "bell", "blackwell", "bohr", "booth",
		"borg", "bose", "cannon", "carson", "cerf", "chandrasekhar", "clarke", "curie",
		"darwin", "diffie", "dijkstra", "einstein", "euclid", "euler", "fermat", "feynman",
		"franklin", "galileo", "gauss", "goldberg", "hamilton", "hawking", "heisenberg",
		"hopper", "hypatia", "jackson", "johnson", "kepler", "knuth", "lamport", "leakey",
		"lovelace", "mccarthy", "meitner", "mendel", "newton", "noether", "pascal", "pike",
		"ritchie", "shannon", "sinoussi", "tesla", "thompson", "torvalds", "turing", "wilson",
		"wing", "wozniak", "yalow", "yonath",
	}
)

// randomName returns a docker-style "adjective_noun" name.
func randomName() string {
	pick := func(words []string) string {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		if err != nil {
			return words[0]
		}
		return words[n.Int64()]
	}
	return pick(nameAdjectives) + "_" + pick(nameNouns)
}
