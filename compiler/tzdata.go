package compiler

// The IANA time zone database, in the binary: sync windows name time
// zones, which the checks look up, and the container image has no
// /usr/share/zoneinfo.
import _ "time/tzdata"
