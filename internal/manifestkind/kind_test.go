package manifestkind

import "testing"

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		body         string
		index, image bool
	}{
		{`{"manifests":[{}]}`, true, false},
		{`{"manifests":[],"layers":[],"config":null}`, false, false},
		{`{"manifests":null,"layers":null}`, false, false},
		{`{"config":{}}`, false, true},
		{`{"layers":[{}]}`, false, true},
		{`{"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]}`, true, false},
		{`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","manifests":[]}`, false, true},
		{`{"manifests":[{}],"config":{}}`, true, true},
	} {
		k, ok := Of([]byte(tt.body))
		if !ok || k.Index != tt.index || k.Image != tt.image {
			t.Errorf("Of(%s) = %+v, %v; want index %v, image %v", tt.body, k, ok, tt.index, tt.image)
		}
	}
	if _, ok := Of([]byte("not json")); ok {
		t.Errorf("Of(not JSON) = ok")
	}
}
