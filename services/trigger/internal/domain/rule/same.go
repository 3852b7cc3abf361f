package rule

import (
	"encoding/json"
	"time"
)

// SameDefinition reports whether two rules say the same thing, whatever
// their version and who changed them when: loading an unchanged rule file
// must not make a new version.
func SameDefinition(a, b Rule) bool {
	strip := func(r Rule) ([]byte, error) {
		r.Version, r.UpdatedBy, r.UpdatedAt = 0, "", time.Time{}
		return json.Marshal(r.WithDefaults())
	}
	x, err1 := strip(a)
	y, err2 := strip(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
