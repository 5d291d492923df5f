// Run web/precompile.py inside npm's Pyodide, under Node (see that file for why).
//   node web/precompile.mjs PYODIDE_DIR JOBS_JSON
// PYODIDE_DIR holds pyodide.mjs and its runtime; JOBS_JSON is a list of
// [source, destination, runtime prefix] with absolute host paths, which are mounted
// at the same place inside Pyodide.
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, jobsFile] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const jobs = JSON.parse(readFileSync(jobsFile, "utf8"));
const pyodide = await loadPyodide({ indexURL: pyodideDir + path.sep });
const dirs = new Set(jobs.flatMap(([source, dest]) => [path.dirname(source), path.dirname(dest)]));
for (const dir of dirs) {
  pyodide.FS.mkdirTree(dir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: dir }, dir);
}
pyodide.globals.set("ARGS", pyodide.toPy(jobs));
await pyodide.runPythonAsync(readFileSync(new URL("precompile.py", import.meta.url), "utf8"));
