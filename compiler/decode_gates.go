package compiler

import (
	"cuelang.org/go/cue"

	"github.com/pipec/pipec/model"
)

// gates decodes a pipeline's supply-chain gates; nil if it has none.
func gates(n node) *model.Gates {
	if !n.exists() {
		return nil
	}
	g := &model.Gates{
		Image:               n.field("image").str(),
		Build:               n.field("build").str(),
		RegistryCredentials: n.field("registryCredentials").str(),
		Path:                n.path,
	}
	if s := n.field("scan"); s.exists() {
		g.Scan = &model.Scan{
			Tool: s.field("tool").str(), FailOn: s.field("failOn").str(), IgnoreFile: s.field("ignoreFile").str(),
			Workspace: s.field("workspace").str(), Image: s.field("image").str(), OnError: s.field("onError").str(), Path: s.path,
		}
		if db := s.field("database"); db.exists() {
			g.Scan.Database = &model.ScanDatabase{Repository: db.field("repository").str(), JavaRepository: db.field("javaRepository").str(),
				UpdateURL: db.field("updateURL").str(), Path: db.path}
		}
	}
	if s := n.field("sbom"); s.exists() {
		g.SBOM = &model.SBOM{Format: s.field("format").str(), Image: s.field("image").str(), Path: s.path}
	}
	if s := n.field("sign"); s.exists() {
		g.Sign = &model.Sign{
			PublicKey: s.field("publicKey").str(), Rekor: s.field("rekor").str(), Admit: s.field("admit").strs(), Path: s.path,
		}
		if k := s.field("key"); k.exists() {
			key := &model.SigningKey{Path: k.path}
			if k.v.IncompleteKind() == cue.StringKind {
				key.URI = k.str()
			} else {
				key.Secret, key.Key, key.Password = k.field("secret").str(), k.field("key").str(), k.field("password").str()
			}
			g.Sign.Key = key
		}
		if k := s.field("keyless"); k.exists() {
			g.Sign.Keyless = &model.Keyless{
				Issuer: k.field("issuer").str(), Subject: k.field("subject").str(), Fulcio: k.field("fulcio").str(),
				TokenFile: k.field("tokenFile").str(), Path: k.path,
			}
		}
	}
	return g
}
