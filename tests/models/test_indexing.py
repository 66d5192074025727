import torch

from rdf2mm.models.indexing import gather_rows


def test_gather_rows_matches_indexing_forward_and_backward_with_repeats():
    torch.manual_seed(0)
    table = torch.randn(7, 3, requires_grad=True)
    index = torch.tensor([0, 3, 3, 6, 0, 0, 2])
    upstream = torch.randn(7, 3)
    (table[index] * upstream).sum().backward()
    expected = table.grad.clone()
    table.grad = None
    out = gather_rows(table, index)
    assert torch.equal(out, table[index].detach())
    (out * upstream).sum().backward()
    assert torch.allclose(table.grad, expected, atol=1e-6)
    assert torch.count_nonzero(table.grad[[1, 4, 5]]) == 0  # rows never gathered get no gradient


def test_gather_rows_keeps_the_index_shape_and_needs_no_grad():
    table = torch.arange(12.0).reshape(4, 3)
    index = torch.tensor([[0, 1], [3, 3]])
    out = gather_rows(table, index)
    assert out.shape == (2, 2, 3) and torch.equal(out, table[index])
    with torch.no_grad():
        assert torch.equal(gather_rows(table.requires_grad_(), index), table[index])
