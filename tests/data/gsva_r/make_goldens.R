#!/usr/bin/env Rscript
## Golden scores from R/Bioconductor GSVA for tests/test_gsva_r_golden.py.
##
## Run from this folder:  Rscript make_goldens.R
## (not run in CI; needs GSVA, e.g. Debian's `apt-get install r-bioc-gsva`).
##
## 1. Writes the inputs (only if absent, so that the committed inputs stay fixed):
##      expr_log2.csv    40 genes x 12 samples, log2 expression, 4 decimals, tie-free
##                       (no two genes equal within a sample, no two samples equal within a gene)
##      counts.csv       the same genes/samples as integer counts (for kcdf = "Poisson"),
##                       tie-free within each gene
##      expr_log2_constant.csv  expr_log2.csv with TBP (a "housekeeping" gene) set to
##                       6.54321 in every sample: GSVA drops constant genes for gsva,
##                       zscore and plage and keeps them for ssgsea
##      gene_sets.csv    long table set,gene: 4 sets of 6-15 genes; "isg15" names OAS1,
##                       which is not in the matrix
## 2. Reads them back (so the goldens are of the text in the CSVs) and writes one
##    golden per method/option set: golden_<name>.csv, gene sets x samples, values with
##    17 significant digits (sprintf("%.17g")), which round-trip double precision exactly.
## 3. Writes sessionInfo.txt.
##
## The API is chosen from packageVersion("GSVA"): >= 1.50 uses gsvaParam()/ssgseaParam()/
## zscoreParam()/plageParam() + gsva(param); older uses gsva(expr, sets, method = ...).

suppressPackageStartupMessages(library(GSVA))
gsva_version <- packageVersion("GSVA")
new_api <- gsva_version >= "1.50.0"

## ---- inputs -----------------------------------------------------------------
genes <- c(
  # type I interferon-stimulated genes
  "IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1", "IFI44", "IFI6", "MX1", "OAS2",
  "OAS3", "HERC5", "EPSTI1", "LY6E", "USP18", "IFIT3", "IFIT2", "STAT1", "IRF7", "XAF1",
  # reference (housekeeping) genes
  "ACTB", "GAPDH", "B2M", "HPRT1", "TBP", "PGK1", "PPIA", "RPLP0", "GUSB", "HMBS",
  "YWHAZ", "SDHA", "UBC", "TFRC", "POLR2A",
  # cell-type markers
  "CD3E", "CD19", "CD14", "MS4A1", "NKG7"
)
samples <- sprintf("S%02d", 1:12)

tie_free <- function(M) {
  !any(apply(M, 2, anyDuplicated) > 0) && !any(apply(M, 1, anyDuplicated) > 0)
}

if (!file.exists("expr_log2.csv") || !file.exists("counts.csv")) {
  RNGkind("Mersenne-Twister", "Inversion", "Rejection")
  set.seed(20240611)
  n_isg <- 20
  base <- c(runif(n_isg, 4, 9), runif(15, 7, 13), runif(5, 5, 10))
  ifn <- rep(c(0, 1), each = 6) * runif(12, 1.5, 4)   # S07-S12: interferon-high
  load <- c(runif(n_isg, 0.6, 1.2), rep(0, 20))       # only the ISGs respond
  repeat {
    E <- base + outer(load, ifn) + matrix(rnorm(40 * 12, 0, 0.5), 40, 12)
    E <- round(E, 4)
    if (tie_free(E)) break
  }
  dimnames(E) <- list(genes, samples)
  ## counts: 2^E scaled to a library of about 3e4 reads over these genes, Poisson noise
  repeat {
    mu <- 2^E / sum(2^E[, 1]) * 3e4
    C <- matrix(rpois(length(mu), mu), nrow(mu), dimnames = dimnames(E))
    if (!any(apply(C, 1, anyDuplicated) > 0) && all(C > 0)) break
  }
  write.csv(data.frame(gene = genes, E, check.names = FALSE), "expr_log2.csv",
            row.names = FALSE, quote = FALSE)
  write.csv(data.frame(gene = genes, C, check.names = FALSE), "counts.csv",
            row.names = FALSE, quote = FALSE)
}
if (!file.exists("expr_log2_constant.csv")) {
  d <- read.csv("expr_log2.csv", check.names = FALSE, colClasses = c(gene = "character"))
  d[d$gene == "TBP", -1] <- 6.54321
  write.csv(d, "expr_log2_constant.csv", row.names = FALSE, quote = FALSE)
}
if (!file.exists("gene_sets.csv")) {
  sets <- list(
    rice6 = c("IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"),
    isg15 = c("IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1", "IFI44", "IFI6",
              "MX1", "OAS2", "OAS3", "HERC5", "EPSTI1", "USP18", "OAS1"),
    housekeeping = c("ACTB", "GAPDH", "B2M", "HPRT1", "TBP", "PGK1", "PPIA", "RPLP0"),
    mixed = c("IFIT3", "IFIT2", "STAT1", "IRF7", "XAF1", "CD3E", "CD14", "GUSB", "HMBS",
              "NKG7")
  )
  write.csv(data.frame(set = rep(names(sets), lengths(sets)), gene = unlist(sets)),
            "gene_sets.csv", row.names = FALSE, quote = FALSE)
}

read_matrix <- function(path) {
  d <- read.csv(path, check.names = FALSE, colClasses = c(gene = "character"))
  M <- as.matrix(d[, -1])
  rownames(M) <- d$gene
  M
}
E <- read_matrix("expr_log2.csv")
K <- read_matrix("expr_log2_constant.csv")
C <- read_matrix("counts.csv")
storage.mode(C) <- "double"
gs <- read.csv("gene_sets.csv", colClasses = "character")
sets <- split(gs$gene, factor(gs$set, levels = unique(gs$set)))
stopifnot(tie_free(E), tie_free(K[rownames(K) != "TBP", ]), !any(K == 6.54321 & rownames(K)[row(K)] != "TBP"), !any(apply(C, 1, anyDuplicated) > 0), all(C == round(C)))

## ---- scores -----------------------------------------------------------------
score <- function(X, method, kcdf = "Gaussian", mx.diff = TRUE, abs.ranking = FALSE,
                  tau = NULL, ssgsea.norm = TRUE) {
  if (new_api) {
    param <- switch(method,
      gsva = {
        a <- list(X, sets, kcdf = kcdf, maxDiff = mx.diff, absRanking = abs.ranking)
        if (!is.null(tau)) a$tau <- tau
        do.call(gsvaParam, a)
      },
      ssgsea = {
        a <- list(X, sets, normalize = ssgsea.norm)
        if (!is.null(tau)) a$alpha <- tau
        do.call(ssgseaParam, a)
      },
      zscore = zscoreParam(X, sets),
      plage = plageParam(X, sets)
    )
    gsva(param, verbose = FALSE)
  } else {
    a <- list(X, sets, method = method, kcdf = kcdf, mx.diff = mx.diff,
              abs.ranking = abs.ranking, ssgsea.norm = ssgsea.norm, verbose = FALSE)
    if (!is.null(tau)) a$tau <- tau
    suppressWarnings(do.call(gsva, a))
  }
}

runs <- list(
  gsva_gaussian            = function() score(E, "gsva", "Gaussian"),
  gsva_gaussian_nomaxdiff  = function() score(E, "gsva", "Gaussian", mx.diff = FALSE),
  gsva_gaussian_absranking = function() score(E, "gsva", "Gaussian", abs.ranking = TRUE),
  gsva_gaussian_tau0.5     = function() score(E, "gsva", "Gaussian", tau = 0.5),
  gsva_poisson             = function() score(C, "gsva", "Poisson"),
  gsva_poisson_nomaxdiff   = function() score(C, "gsva", "Poisson", mx.diff = FALSE),
  gsva_none                = function() score(E, "gsva", "none"),
  gsva_none_nomaxdiff      = function() score(E, "gsva", "none", mx.diff = FALSE),
  ssgsea_norm              = function() score(E, "ssgsea", ssgsea.norm = TRUE),
  ssgsea_nonorm            = function() score(E, "ssgsea", ssgsea.norm = FALSE),
  ssgsea_nonorm_alpha1     = function() score(E, "ssgsea", ssgsea.norm = FALSE, tau = 1),
  zscore                   = function() score(E, "zscore"),
  plage                    = function() score(E, "plage"),
  constant_gsva_gaussian   = function() score(K, "gsva", "Gaussian"),
  constant_ssgsea_nonorm   = function() score(K, "ssgsea", ssgsea.norm = FALSE),
  constant_zscore          = function() score(K, "zscore"),
  constant_plage           = function() score(K, "plage")
)

write_golden <- function(M, path) {
  M <- as.matrix(M)
  out <- cbind(set = rownames(M), apply(M, 2, function(v) sprintf("%.17g", v)))
  write.table(out, path, sep = ",", quote = FALSE, row.names = FALSE, col.names = TRUE)
}
for (name in names(runs)) {
  invisible(capture.output(M <- runs[[name]]()))  # 1.46's ssgsea print()s its progress
  stopifnot(identical(colnames(M), colnames(E)), identical(rownames(M), names(sets)))
  write_golden(M, sprintf("golden_%s.csv", name))
  cat("wrote", sprintf("golden_%s.csv", name), "\n")
}

writeLines(c(sprintf("GSVA %s (%s API)", gsva_version,
                     if (new_api) "gsvaParam" else "gsva(expr, sets, method=...)"),
             capture.output(sessionInfo())), "sessionInfo.txt")
