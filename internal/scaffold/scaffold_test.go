package scaffold

import "testing"

func TestNameFrom(t *testing.T) {
	for dir, want := range map[string]string{
		"tmp.AbC12":        "tmp-abc12",
		"Ünïcode":          "unicode",
		"Straße_Çà-Ørsted": "strasse-ca-orsted",
		"Œuvre Ægir łódź":  "oeuvre-aegir-lodz",
		"İstanbul":         "istanbul",
		"日本-app":           "app",
		"___":              "",
	} {
		if got := NameFrom(dir); got != want {
			t.Errorf("NameFrom(%q) = %q, want %q", dir, got, want)
		}
	}
}
