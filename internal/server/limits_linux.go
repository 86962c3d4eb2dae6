package server

import (
	"fmt"
	"os"
	"strconv"
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

// lowerPriority lowers the CPU priority of a process to nice 10. Linux
// keeps a priority per thread, so each of its threads is lowered (twice
// over, for threads started meanwhile); threads it starts later inherit
// it.
func lowerPriority(pid int) {
	for range 2 {
		tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				syscall.Setpriority(syscall.PRIO_PROCESS, tid, 10)
			}
		}
	}
}

var pageSize = int64(os.Getpagesize())

// privateRSS is the resident memory of a process that it does not share
// (that is not its executable's pages): resident less shared in
// /proc/<pid>/statm. Zero when it cannot be read.
func privateRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	// size resident shared text lib data dt, in pages
	var size, resident, shared int64
	if _, err := fmt.Sscan(string(b), &size, &resident, &shared); err != nil {
		return 0
	}
	return (resident - shared) * pageSize
}
