package server

import (
	"os"
	"syscall"
)

// setLimits caps the process's data segment at mem bytes (RLIMIT_DATA:
// since Linux 4.7 the private writable mappings, which is the heap Go
// uses, not the address space it reserves, which RLIMIT_AS would count);
// zero leaves it alone.
func setLimits(mem uint64) error {
	if mem == 0 {
		return nil
	}
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: mem, Max: mem})
}

// peakRSS is the most memory an exited process had resident, in bytes.
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kilobytes
	}
	return 0
}
