// Package rmtree removes directory trees however deep, without following symlinks, with two
// directory handles open at most and memory bounded by one getdents chunk plus the names of
// the subdirectories still to remove on the way down.
//
// Its job is strata's deletion of trees that their own contents may have made hostile: layer
// dirs (a layer can nest 1,900 levels within PATH_MAX), container dirs (a container's
// processes can nest directories as deep as they like with mkdir and chdir) and the half of a
// failed unpack. os.RemoveAll keeps a directory open per level, so it fails for good on a tree
// deeper than the process may open files, and walks by path stop at PATH_MAX or, as
// securejoin's, at 256 levels. RemoveAt goes down by name with O_NOFOLLOW directory handles and
// back up by "..": the depth it removes is unbounded, and a symlink is removed as a link, never
// followed. Going up by ".." is sound where nothing else renames directories of the tree while
// it runs, which is how strata calls it: a layer dir under its lock or being applied, a
// container's dir once the container and its mounts are gone.
//
// Non-directories are unlinked as each getdents chunk is read, into one buffer reused across
// directories (and calls), so a directory of tens of millions of files never has all its
// names in memory; only the names of its subdirectories are kept until they are removed. A
// filesystem may skip entries of a directory changed while it is read (POSIX leaves it open),
// so a directory found not empty when its turn to go comes is read and cleared again, a few
// times at most.
package rmtree
