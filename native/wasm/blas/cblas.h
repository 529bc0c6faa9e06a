// The part of the CBLAS and LAPACK interface the CPU backend calls (native/cpu/cpu_backend.cc), for the
// WebAssembly build, where no OpenBLAS exists: the same names and signatures, implemented in this folder on
// SIMD128. Row-major only; the Fortran-style Cholesky routines are column-major as in LAPACK.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 };
enum CBLAS_UPLO { CblasUpper = 121, CblasLower = 122 };
enum CBLAS_DIAG { CblasNonUnit = 131, CblasUnit = 132 };
enum CBLAS_SIDE { CblasLeft = 141, CblasRight = 142 };

// C = alpha op(A) op(B) + beta C.
void cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m, int n, int k,
                 float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
// The lower triangle of C = alpha op(A) op(A)^T + beta C (Lower only).
void cblas_ssyrk(enum CBLAS_ORDER order, enum CBLAS_UPLO uplo, enum CBLAS_TRANSPOSE trans, int n, int k,
                 float alpha, const float* a, int lda, float beta, float* c, int ldc);
// y = alpha op(A) x + beta y.
void cblas_sgemv(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE trans, int m, int n, float alpha, const float* a,
                 int lda, const float* x, int incx, float beta, float* y, int incy);
// A += alpha x y^T.
void cblas_sger(enum CBLAS_ORDER order, int m, int n, float alpha, const float* x, int incx, const float* y,
                int incy, float* a, int lda);
// B = alpha op(T)^-1 B for a triangular T on the left (Left, NonUnit only).
void cblas_strsm(enum CBLAS_ORDER order, enum CBLAS_SIDE side, enum CBLAS_UPLO uplo, enum CBLAS_TRANSPOSE trans,
                 enum CBLAS_DIAG diag, int m, int n, float alpha, const float* t, int ldt, float* b, int ldb);

// LAPACK's DSYEV with jobz 'V' (column-major): eigenvalues ascending in w, eigenvectors in the columns of a.
void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
            const int* lwork, int* info);

// The number of threads the routines above may use (OpenBLAS's names).
int openblas_get_num_threads(void);
void openblas_set_num_threads(int threads);

#ifdef __cplusplus
}
#endif
