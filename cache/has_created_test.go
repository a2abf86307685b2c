package cache

import "testing"

// TestHasCreated: a config's "created" counts as given even when it is the zero time, which
// docker prints; absent or null it does not.
func TestHasCreated(t *testing.T) {
	for in, want := range map[string]bool{
		`{"created":"0001-01-01T00:00:00Z"}`: true,
		`{"created":"2024-05-01T10:00:00Z"}`: true,
		`{"created":null}`:                   false,
		`{"architecture":"amd64"}`:           false,
		`not json`:                           false,
	} {
		if got := hasCreated([]byte(in)); got != want {
			t.Errorf("hasCreated(%s) = %v, want %v", in, got, want)
		}
	}
}

// TestHistoryHasCreated: each history step's "created" is told apart from none the same way.
func TestHistoryHasCreated(t *testing.T) {
	raw := `{"history":[{"created":"0001-01-01T00:00:00Z"},{"created_by":"CMD sh"},{"created":null},{"created":"2024-05-01T10:00:00Z"}]}`
	got := historyHasCreated([]byte(raw))
	want := []bool{true, false, false, true}
	if len(got) != len(want) {
		t.Fatalf("historyHasCreated = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("historyHasCreated = %v, want %v", got, want)
			break
		}
	}
	if got := historyHasCreated([]byte(`{"created":"2024-05-01T10:00:00Z"}`)); got != nil {
		t.Errorf("historyHasCreated of no history = %v, want nil", got)
	}
}
